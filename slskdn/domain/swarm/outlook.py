"""Candidate takes judged by where they lead: the working model turned into forecast lanes."""

from __future__ import annotations

from .decisions import SOULSEEK
from .forecast import NEVER, Helper, Lane, forecast
from .planning import Binder, Take
from .range_map import ByteState
from .workbench import Workbench
from .zones import ZoneSpan

# (factor, weight) of the values a guessed rate is judged at: about ±σ of the log-normal error
# of advertised speeds (σ ≈ 0.5), the guess itself counting double.
RATE_GUESSES = ((0.6, 1.0), (1.0, 2.0), (1.65, 1.0))


class Outlook(Workbench):
    def _lanes(self, span: ZoneSpan) -> list[Lane]:
        lanes = []
        for r in self.runs:
            if r.remaining(span.end) <= 0 or r.end <= span.start:
                continue
            v = self.sources[r.source_id]
            lanes.append(Lane(r.source_id, r.rate, r.position, min(r.end, span.end), r.starts_at,
                              v.start_delay if v.kind == SOULSEEK else v.first_byte_delay,
                              v.first_byte_delay))
        for seg in self.rm.iter_segments(span.start, span.end):
            if seg.state == ByteState.PENDING:
                lanes.append(Lane("", 0.0, seg.start, seg.end, self.now, NEVER))
        return lanes

    def _helpers(self, binder: Binder) -> list[Helper]:
        busy = {r.source_id for r in self.runs}
        out = []
        for v in self.s.sources:
            if v.source_id == binder.source_id or v.source_id in busy or not self._usable(v):
                continue
            if v.verdict or v.state in ("ready", "streaming"):
                continue
            delay = v.start_delay if v.kind == SOULSEEK else v.first_byte_delay
            if v.state in ("negotiating", "queued"):
                if v.ready_at is None:
                    continue
                ready = max(v.ready_at, self.now)
            else:
                ready = self.now + delay - v.first_byte_delay
            out.append(Helper(ready, v.source_id, self._rate(v), v.first_byte_delay, delay))
        return out

    def _idle_outlook(self, lanes: list[Lane], helpers: list[Helper]) -> tuple[float, float]:
        """The ``_outlook`` key (end and mean, rounded alike) if the binder takes nothing."""
        seen = forecast(lanes, helpers, self.now, min_bytes=self.config.min_steal_bytes,
                        min_gain=self.config.min_gain_seconds, race_below=self.config.race_below)
        return round(seen.end, 2), round(seen.mean, 3)

    def _outlook(self, binder: Binder, take: Take, lanes: list[Lane],
                 helpers: list[Helper]) -> tuple[float, float]:
        """(when the download would end, when its average byte would arrive) after ``take``."""
        mine = [Lane(x.source_id, x.rate, x.position, x.end, x.starts, x.delay, x.rtt)
                for x in lanes]
        extra = list(helpers)
        for sid in take.taken_over:
            for x in [x for x in mine if x.source_id == sid]:
                mine.remove(x)
                extra.append(Helper(self.now + x.delay - x.rtt, sid, x.rate, x.rtt, x.delay))
        if take.kind == "steal":
            for x in mine:
                if x.source_id == take.victim and x.position < take.victim_end <= x.end + 1:
                    x.end = take.new_end
        elif take.kind == "duplicate":
            mine = [x for x in mine if x.source_id != take.victim]
        else:
            mine = [x for x in mine if x.source_id or not (take.start <= x.position < take.end)]
        v = self.sources[binder.source_id]
        delay = v.start_delay if v.kind == SOULSEEK else v.first_byte_delay
        # A rate that is only a guess is judged at a few values around it (its error is
        # log-normal): a take that is fine only if the guess is right is a bad bet.
        spread = RATE_GUESSES if not v.rate_measured else ((1.0, 1.0),)
        end = mean = 0.0
        for factor, weight in spread:
            lanes_f = [Lane(x.source_id, x.rate, x.position, x.end, x.starts, x.delay, x.rtt)
                       for x in mine]
            lanes_f.append(Lane(binder.source_id, binder.rate * factor, take.start, take.end,
                                binder.starts_at, delay, v.first_byte_delay))
            seen = forecast(lanes_f, extra, self.now, min_bytes=self.config.min_steal_bytes,
                            min_gain=self.config.min_gain_seconds,
                            race_below=self.config.race_below)
            end += weight * seen.end
            mean += weight * seen.mean
        weights = sum(w for _, w in spread)
        return end / weights, mean / weights

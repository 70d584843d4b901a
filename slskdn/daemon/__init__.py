"""The long-running node: download service, HTTP API, and the process that hosts them."""

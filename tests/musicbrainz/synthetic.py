"""Ids used by the synthetic fixtures in tests/fixtures/musicbrainz_synthetic/.

They are uuid5(NAMESPACE_URL, "slskdn-test:<name>"), so they look like MBIDs but exist
nowhere in MusicBrainz.
"""

ARTIST = "b3a3f284-c83f-546f-81e4-70f943183aad"
LABEL = "e17a4a0c-d173-5f5f-bd16-5a1227ed7bb8"
OTHER_ARTIST = "131bc9ea-72b9-5691-9e9d-5c5695da828f"

RG_DEBUT = "dfd8a435-e076-51e8-9d86-44309b8693a9"  # Album
RG_SECOND = "789d3ffb-66c1-568c-8b62-c68f23373d10"  # Album
RG_THIRD = "d5bf67a1-0837-539b-8790-3567d81cdd0a"  # Album
RG_UNRELEASED = "2ce4d90f-b9be-573b-9d71-fd7d197c90ee"  # Album, no release known
RG_LIVE = "25264264-1800-5c5c-b2c2-2bdb61cdc34a"  # Album + Live, official
RG_BOOT_LIVE = "0951a052-eeaa-5f91-a836-d61060f5606c"  # Album + Live, bootleg only
RG_COMP = "76498a92-cc7b-587b-91f9-414482cf1962"  # Album + Compilation, official
RG_EP = "cf030cd8-2f36-571e-8f6a-894096ad27d0"  # EP
RG_SINGLE = "409e841d-22a3-552e-9695-e9cb5f209f61"  # Single
RG_OST = "51159f2b-0e8d-5e83-99af-80abb48ddb7a"  # Album + Soundtrack
RG_REMIX = "8d396c09-e2ea-55f6-9469-b77a89e915f3"  # Album + Remix
RG_OTHER = "e01cb86b-149b-5602-9629-62840e80b4d8"  # another artist's group (label browse)

R_DEBUT_US = "a439895e-bf8b-574d-afff-af09c5b13ae7"  # Official US 1999-03-01
R_DEBUT_GB = "d478a5a0-70dd-55bf-bc24-d911a6470ed4"  # Official GB 1999-02-15
R_DEBUT_XW = "eaff52d4-fe2d-536e-92af-bda112e0e8a1"  # Official XW 2015-06-01
R_DEBUT_BOOT = "9b92a0fe-cfc7-5e04-8c00-eb7e53cd75ee"  # Bootleg XW 1998-12-01
R_SECOND_JP = "c8ece06a-844a-5fc3-b518-393784954a9c"  # Official JP, 13 tracks
R_SECOND_DE = "1dff67f5-2a15-5861-a13a-a55d4e308bf9"  # Official DE, same date, 12 tracks
R_SECOND_PROMO = "3dc5a35e-7f09-585f-820e-4ae227406cdf"  # Promotion US, earlier
R_THIRD_A = "3b341a2d-d16e-5032-b504-637fbbe17371"  # 2 media, one without tracks
R_THIRD_B = "7946f236-d405-5795-aa09-778204d32a0f"  # 1 complete medium, fewer tracks
R_LIVE = "fea09b84-a161-58d4-b954-eb7245bbf364"
R_BOOT_LIVE = "48df5705-d068-59f5-b241-436217fd589f"
R_COMP = "cf557fa3-1b54-5872-a4cc-36d6712cefcc"
R_EP = "3653856d-0b5e-5c0e-a09d-13fcd1e7b17d"  # also a full lookup fixture
R_SINGLE = "7917ba6c-700a-515a-b14d-46750a24afe1"
R_OST = "50beb287-7f67-5099-accb-553aeb5b1cfc"
R_REMIX = "c329d779-003d-5659-b261-d566389f52f9"
R_OTHER = "dd53975e-178e-530d-84a7-a1ba32196db4"  # another artist's release on LABEL
R_NOMEDIA = "02c1af3a-61c6-5753-9140-fc98d8dce761"  # lookup fixture without media

REC = (
    "d7b0e553-ad30-5d75-96e5-e2cc4d2ca41f",
    "bcc30136-ea64-5225-b1dd-aade08a2e816",
    "d87451f1-9f35-591c-a8f4-4ccf19c77698",
    "0c39b875-8387-5114-928a-82ca936e10cc",
)
TRACK = (
    "9ed1a4f2-57f8-5a08-b88d-05c48c62d785",
    "caf187fd-3b1a-5940-bb27-088780179f80",
    "f5f0bacf-7e9e-50bd-8c10-7848c74d008f",
    "96112c24-c51c-5ef0-a890-87a27a03ec32",
)

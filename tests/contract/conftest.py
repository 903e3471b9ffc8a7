"""Contract tests: the inner suite (standin/) runs only inside the subprocess that test_real_bindings.py starts."""
import os

collect_ignore = [] if os.environ.get("ZOE_CONTRACT_STANDIN") else ["standin"]

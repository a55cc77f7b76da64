"""CrossGuard entry point: `pulumi preview --policy-pack policies/` runs this file."""

import sys
from pathlib import Path

# The engine runs this directory as a script; make the project root importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policies.crossguard import serve

serve()

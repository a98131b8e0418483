"""``python -m lottery`` — see lottery.cli."""

from lottery.cli import main

raise SystemExit(main())

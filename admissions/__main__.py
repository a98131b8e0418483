import sys

from admissions.cli import main

sys.exit(main())

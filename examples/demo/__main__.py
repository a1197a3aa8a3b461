"""``python -m examples.demo --output demo-output``: run the lifecycle demo."""

from examples.demo.run import main

raise SystemExit(main())

from atum_metrics.cli import main

raise SystemExit(main())

from demoforge.cli import main

raise SystemExit(main())

from infra.local.scenario import main

raise SystemExit(main())

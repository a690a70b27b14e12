from ketch.guest.daemon.main import main

raise SystemExit(main())

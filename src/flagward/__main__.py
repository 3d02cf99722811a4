from flagward.cli import main

main()

from newsdedup.cli import main

main()

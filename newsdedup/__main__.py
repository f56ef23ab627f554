from newsdedup.cli import run

run()

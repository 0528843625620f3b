from evalkit.cli import main

# Guarded: local engines (vLLM) start worker processes that re-import the main module.
if __name__ == "__main__":
    main()

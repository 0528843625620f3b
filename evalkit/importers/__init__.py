"""Other tools' data as evalkit suites: converters that read files and write suites."""

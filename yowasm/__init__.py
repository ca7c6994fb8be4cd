"""yowasm: start WebAssembly projects and carry them to a registry."""

__version__ = "0.1.0"

#: The file in a project's root that holds its answers (copier's name for it). Here, so
#: that what reads it before anything else loads (yowasm.build_record) shares it.
ANSWERS_FILE = ".copier-answers.yml"

"""`mlopsgen simulate`: a day in the life of a deployed stack, in the sandbox, calling the real handlers."""

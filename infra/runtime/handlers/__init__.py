"""Entry points of the runtime jobs (Lambda handlers and scheduled tasks) the generated stacks deploy."""

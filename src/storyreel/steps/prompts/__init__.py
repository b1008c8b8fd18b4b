"""One system prompt per step, each in its own module. The user prompt is always the step's context DTO as JSON;
story rules are appended to every system prompt by the step context."""

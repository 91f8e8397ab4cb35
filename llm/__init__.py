"""The one module that talks to a language model (Anthropic's Claude), shared by both agents."""

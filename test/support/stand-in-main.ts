// placeholder: the LiteLLM stand-in's standalone entry

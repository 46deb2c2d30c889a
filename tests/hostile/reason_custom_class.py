# Fail with an exception class whose name is our text.
raise type("@@MARKER@@" + "X" * 5000, (Exception,), {})("@@MARKER@@")

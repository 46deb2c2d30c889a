# Wait for input that never comes.
answer = input()
assert answer == "42"

"""The JOS grader's tests, one file per part, and its harness (gradelib).
grade.py at the top of the tree imports the parts in order and runs them."""

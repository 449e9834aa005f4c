"""Integrity review (积分异常复核): patterns worth a look, found by a daily scan, for HR.

Nothing here changes anyone's points: a flag is a question for a person to look at,
answered by marking it reviewed (with a note) or by an ordinary adjustment.
"""

"""HR's rule workbench: try an event, simulate a version, diff, activate with back-apply.

It sits above scoring (it replays the scorer's rules over real histories), while the
stored versions it works on (:mod:`points.rulesets`) sit below it.
"""

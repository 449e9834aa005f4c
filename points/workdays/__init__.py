"""The company's working-day calendar: statutory holidays and make-up working days (调休)."""

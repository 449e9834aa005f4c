"""Appeals (积分申诉): a person says a point is missing or wrong; HR answers."""

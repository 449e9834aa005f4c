"""Personal data: the privacy notice, one's own data export, retention and leavers."""

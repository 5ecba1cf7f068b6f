"""Experience phase: dosing sessions, monitoring and vitals, REMS forms, integration windows."""

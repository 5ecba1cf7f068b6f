"""The post-dosing journal (issue 23, point 4): the patient's entries, private until shared one by one."""

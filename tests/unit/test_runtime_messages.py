"""Runtime error texts: crun's wording becomes runc's, which the daemon and the CLI read to
tell a missing command (127) from one that cannot run (126)."""

from ketch.guest.runtime.oci import runtime_message


def test_crun_missing_command_reads_as_runc() -> None:
    crun = "executable file `nosuchcmd` not found in $PATH: No such file or directory\n"
    assert runtime_message(crun) == (
        'unable to start container process: exec: "nosuchcmd": executable file not found in $PATH'
    )
    logged = 'msg="executable file `x` not found in $PATH: No such file or directory"'
    assert runtime_message(logged).endswith('exec: "x": executable file not found in $PATH')


def test_errno_texts_are_lower_case_and_runc_is_unchanged() -> None:
    assert runtime_message("open `/bin/x`: Permission denied") == "open `/bin/x`: permission denied"
    runc = (
        'time="t" level=error msg="runc create failed: unable to start container process: '
        'exec: \\"nosuch\\": executable file not found in $PATH"'
    )
    assert runtime_message(runc) == (
        "runc create failed: unable to start container process: "
        'exec: "nosuch": executable file not found in $PATH'
    )

"""Every TensorRT, cuda-python and Polygraphy name our source uses exists here, as we use it."""
from contract import real_api
from contract.api_uses import scan


def test_every_name_our_code_uses_exists_with_the_kind_and_arguments_we_use(report):
    major = real_api.tensorrt_major()
    problems, checked, guarded = [], set(), set()
    for use in scan():
        name = (use.receiver.text(), use.attr)
        if use.major is not None and use.major != major:
            guarded.add(name)  # behind @requires_tensorrt(use.major): never runs on this version
            continue
        try:
            problem = real_api.check_use(use)
        except LookupError as exc:
            problem = f"cannot follow {use.receiver.text()}: {exc}"
        if problem:
            problems.append(f"{use.where()}: {use.receiver.text()}.{use.attr} ({use.how}): {problem}")
        checked.add(name)
    packages = {}
    for root, _ in checked:
        package = "polygraphy" if root.startswith("polygraphy") else root.split(".")[0].split("(")[0]
        packages[package] = packages.get(package, 0) + 1
    report.update(names=len(checked), guarded=len(guarded), by_package=packages)
    assert not problems, "our code and the real API disagree:\n" + "\n".join(problems)
    assert len(checked) > 50  # the scan found our TensorRT, cuda-python and Polygraphy code


def test_names_we_read_from_strings_exist_too():
    """Enum members our code names in strings (dtype and severity tables) are members of the real enums."""
    import tensorrt

    from zoe_export.runtime import trt_runner

    assert set(trt_runner._TRT_DTYPES) <= set(tensorrt.DataType.__members__)
    assert set(trt_runner._LOG_LEVELS) == set(tensorrt.ILogger.Severity.__members__)

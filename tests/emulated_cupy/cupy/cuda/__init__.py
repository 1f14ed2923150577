"""The parts of ``cupy.cuda`` gpunet touches, answering as one idle device would."""


class runtime:  # noqa: N801 - CuPy's name
    class CUDARuntimeError(RuntimeError):
        pass

    @staticmethod
    def getDeviceCount():  # noqa: N802
        return 1

    @staticmethod
    def runtimeGetVersion():  # noqa: N802
        return 0

    @staticmethod
    def driverGetVersion():  # noqa: N802
        return 0

    @staticmethod
    def getDeviceProperties(device):  # noqa: N802
        return {"name": b"emulated on the CPU", "totalGlobalMem": 0, "major": 0, "minor": 0}


class Device:
    def __init__(self, device=0):
        self.id = device

    def synchronize(self):
        pass

    def use(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class Stream:
    null = None

    def __init__(self, null=False, non_blocking=False):
        pass

    def synchronize(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

"""Exit codes (docs/exit-codes.md) and the errors that carry them to the CLI."""

from __future__ import annotations

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_TOOL_FAILED = 3
EXIT_INTERNAL = 4  # a bug in hlsdiff itself: never hidden behind 3, which is hls4ml's, g++'s or the C-simulation's


class HlsdiffError(Exception):
    """An error the user can act on: one line of message, an exit code, optional detail."""

    exit_code = EXIT_BAD_INPUT
    kind = 'error'

    def __init__(self, message: str, detail: str = '', layer: str | None = None):
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.layer = layer


class BadInput(HlsdiffError):
    """Missing or corrupt file, wrong shape, NaN/inf in data, unknown option (exit 2)."""

    exit_code = EXIT_BAD_INPUT
    kind = 'bad-input'


class NotAProject(BadInput):
    kind = 'not-a-project'


class ConversionFailed(HlsdiffError):
    """hls4ml could not convert the model (exit 3)."""

    exit_code = EXIT_TOOL_FAILED
    kind = 'conversion'


class BuildFailed(HlsdiffError):
    """g++ could not build the C-simulation library (exit 3)."""

    exit_code = EXIT_TOOL_FAILED
    kind = 'build'


class SimulationFailed(HlsdiffError):
    """The C-simulation aborted, crashed or timed out (exit 3)."""

    exit_code = EXIT_TOOL_FAILED
    kind = 'simulation'

"""Processes: a running program, its turn loop, events and results."""

from llmproc.process.process import LLMProcess, ProcessState
from llmproc.process.result import RunResult, ToolCallRecord

__all__ = ["LLMProcess", "ProcessState", "RunResult", "ToolCallRecord"]

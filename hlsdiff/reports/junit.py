"""JUnit XML: a testcase per layer, a failure per gate failure, so CI shows the failing layers."""

from __future__ import annotations

import xml.etree.ElementTree as ET


def _failed(layer, result) -> list[str]:
    """The gate failures of a layer; a saved result from before gates were recorded fails on `mismatch`."""
    if result.gates:
        return layer.gate_failures
    return ['status mismatch'] if layer.status == 'mismatch' else []


def render(result) -> str:
    compared = [layer for layer in result.layers if layer.status != 'not-compared']
    failures = [layer for layer in compared if _failed(layer, result)]
    suite = ET.Element('testsuite', name=f'hlsdiff {result.model}', tests=str(len(result.layers)),
                       failures=str(len(failures)), errors='1' if result.error else '0',
                       skipped=str(len(result.layers) - len(compared)))
    if result.error:
        case = ET.SubElement(suite, 'testcase', classname='hlsdiff', name='compare')
        ET.SubElement(case, 'error', message=result.error['message'], type=result.error['kind'])
    for layer in result.layers:
        case = ET.SubElement(suite, 'testcase', classname=f'hlsdiff.{result.io_type or "model"}', name=layer.name)
        if layer.status == 'not-compared':
            ET.SubElement(case, 'skipped', message=layer.reason)
        elif _failed(layer, result):
            fail = ET.SubElement(case, 'failure', message='; '.join(_failed(layer, result)), type=layer.cause)
            fail.text = (f'status {layer.status}, max abs {layer.max_abs}, max LSB {layer.max_lsb}, '
                         f'pattern {layer.pattern.get("kind")}, cause {layer.cause}\n{layer.hint}')
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding='unicode') + '\n'

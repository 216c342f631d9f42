#!/usr/bin/python3
"""Include rules the compiler cannot see.

1. Inside daemon/, includes point down the layers: the core (files at
   daemon/, and http/), then calibration/, training/ (and models/, at its
   level), services/ (and metrics/ and web/, at its level), and last the object graph (daemon.h, daemon.cc, main.cc). A file may include files of its own
   layer or below, never above.
2. No file of the daemon, the trainers or the driver interfaces names the
   simulator's headers (hidden_truth.h, sim_chip.h, detector_chain.h,
   sim_drivers.h), by any path.

  tests/lint/include_layers.py [SOURCE_ROOT]
Prints each breach; exit 1 if any.
"""
import os
import re
import sys

LAYERS = ["core", "calibration", "training", "services", "graph"]
# Folders at the level of another layer: models/ (the model store,
# deployment and evaluation) uses the training adapters (ControllerOracle);
# metrics/ and web/ (the HTTP port's content) read the services' state.
SAME_LAYER_AS = {"models": "training", "metrics": "services", "web": "services"}
GRAPH_FILES = {"daemon.h", "daemon.cc", "main.cc"}
SIMULATOR_HEADERS = re.compile(
    r'#include\s+[<"][^">]*(hidden_truth|sim_chip|detector_chain|sim_drivers)\.h[">]')
INCLUDE = re.compile(r'#include\s+[<"]daemon/([^">]+)[">]')


def layer_of(relative_to_daemon):
    parts = relative_to_daemon.split("/")
    if len(parts) == 1:
        return LAYERS.index("graph") if parts[0] in GRAPH_FILES else LAYERS.index("core")
    folder = SAME_LAYER_AS.get(parts[0], parts[0])
    return LAYERS.index(folder) if folder in LAYERS else LAYERS.index("core")


def sources(root, folder):
    for directory, _, files in os.walk(os.path.join(root, folder)):
        for name in files:
            if name.endswith((".h", ".cc")):
                yield os.path.join(directory, name)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    breaches = []
    for path in sources(root, "daemon"):
        own = layer_of(os.path.relpath(path, os.path.join(root, "daemon")))
        with open(path) as f:
            for number, line in enumerate(f, 1):
                match = INCLUDE.search(line)
                if match and layer_of(match.group(1)) > own:
                    breaches.append(f"{os.path.relpath(path, root)}:{number}: {LAYERS[own]} includes "
                                    f"{LAYERS[layer_of(match.group(1))]} (daemon/{match.group(1)})")
    for folder in ("daemon", "trainers", "drivers/include", "drivers/serial", "drivers/sim/include"):
        for path in sources(root, folder):
            with open(path) as f:
                for number, line in enumerate(f, 1):
                    if SIMULATOR_HEADERS.search(line):
                        breaches.append(f"{os.path.relpath(path, root)}:{number}: names a simulator "
                                        f"header: {line.strip()}")
    for breach in breaches:
        print(breach)
    print(f"{len(breaches)} breaches")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())

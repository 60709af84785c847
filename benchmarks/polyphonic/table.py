"""Print the results table of benchmarks/README.md from benchmarks/results/*.json."""
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def shape(r: dict) -> str:
    m = r["config"]["model_config"]
    if r["model"] == "conv":
        body = f"{m['num_layers']} blocks x {m['hidden_size']}, k{m['kernel_size']}"
    else:
        body = f"{m['num_layers']} x {m['hidden_size']}"
    head = f"nade {m['head_hidden']}" if m["head"] == "nade" else "bernoulli"
    return f"{body}, dropout {m['dropout']}, {head}"


print("| data | family | model | test NLL (all frames) | test NLL (skip first) | accuracy | valid NLL | "
      "training CPU / wall, 1 thread | epochs (best) | parameters | result file |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for path in sorted((ROOT / "results").glob("*.json")):
    r = json.loads(path.read_text())
    name = Path(r["data"]).stem.replace("_Chorales", "")
    print(f"| {name} | {r['model']} | {shape(r)} | {r['test_nll']:.3f} | {r['test_nll_skip_first']:.3f} | "
          f"{r['test_accuracy']:.3f} | {r['valid_nll']:.3f} | {r['train_cpu_seconds']:.0f} s / {r['train_seconds']:.0f} s | "
          f"{r['epochs_run']} ({r['best_epoch']}) | {r['parameters']:,} | `{path.name}` |")

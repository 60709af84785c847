"""Print the results table of benchmarks/README.md from benchmarks/results/*.json."""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
rows = []
for path in sorted((ROOT / "results").glob("*.json")):
    r = json.loads(path.read_text())
    name = Path(r["data"]).stem.replace("_Chorales", "")
    c = r["config"]
    rows.append(
        f"| {name} | {r['model']} | {r['head']} | {r['test_nll']:.3f} | {r['test_nll_skip_first']:.3f} | "
        f"{r['test_accuracy']:.3f} | {r['valid_nll']:.3f} | {r.get('train_cpu_seconds', float('nan')):.0f} s "
        f"/ {r['train_seconds']:.0f} s | {r['epochs_run']} (best {r['best_epoch']}) | {r['parameters']:,} | `results/{path.name}` |")
print("| data | family | head | test NLL (all frames) | test NLL (skip first) | accuracy | valid NLL | "
      "training CPU / wall (1 thread) | epochs | parameters | result |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
print("\n".join(rows))
sys.exit(0)

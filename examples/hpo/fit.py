"""Fits y = w·x + b with an L2 penalty by gradient descent on `in/train`, scores it on `in/val`.

`--lr` and `--l2` give the point; `--start --scale S` instead start from a picked point (the
`best.json` an earlier pick wrote, under `in/start`) with its learning rate times S. Writes `<name>/metrics.json`
(the validation loss, for `pipe log`), `<name>/point.json` (the point fitted) and, with
`--save-model`, `<name>/model.json`.
"""
import argparse, json, os, pathlib

p = argparse.ArgumentParser()
p.add_argument("--lr", type=float)
p.add_argument("--l2", type=float, default=0.0)
p.add_argument("--start", action="store_true")
p.add_argument("--scale", type=float, default=1.0)
p.add_argument("--epochs", type=int, default=60)
p.add_argument("--name", required=True)
p.add_argument("--save-model", action="store_true")
a = p.parse_args()

if a.start:
    picked = json.loads((pathlib.Path(os.environ["PIPE_IN_START"]) / "best.json").read_text())
    lr, l2 = float(f"{picked['lr'] * a.scale:.6g}"), picked["l2"]
else:
    lr, l2 = a.lr, a.l2


def rows(role, name):
    lines = (pathlib.Path(os.environ[f"PIPE_IN_{role}"]) / name).read_text().splitlines()[1:]
    return [tuple(map(float, line.split(","))) for line in lines]


train, val = rows("TRAIN", "train.csv"), rows("VAL", "val.csv")
w1 = w2 = b = 0.0
for _ in range(a.epochs):
    g1 = g2 = gb = 0.0
    for x1, x2, y in train:
        e = w1 * x1 + w2 * x2 + b - y
        g1, g2, gb = g1 + e * x1, g2 + e * x2, gb + e
    n = len(train)
    w1 -= lr * (2 * g1 / n + 2 * l2 * w1)
    w2 -= lr * (2 * g2 / n + 2 * l2 * w2)
    b -= lr * 2 * gb / n
    if abs(w1) + abs(w2) + abs(b) > 1e6:
        break  # diverged: the loss says so
loss = sum((w1 * x1 + w2 * x2 + b - y) ** 2 for x1, x2, y in val) / len(val)
loss = loss if loss == loss and loss < 1e12 else 1e12
out = pathlib.Path(os.environ["PIPE_OUT"]) / a.name
out.mkdir(parents=True, exist_ok=True)
(out / "metrics.json").write_text(json.dumps({"val_loss": round(loss, 6)}) + "\n")
(out / "point.json").write_text(json.dumps({"lr": lr, "l2": l2, "val_loss": round(loss, 6)}) + "\n")
if a.save_model:
    (out / "model.json").write_text(json.dumps({"w": [round(w1, 6), round(w2, 6)], "b": round(b, 6)}) + "\n")

"""Token-overlap F1 against the best of several references: an `evaluate` metric module kept on
disk, the way a team keeps its own metrics (the tests load it with `evaluate.load(path)`)."""

import datasets
import evaluate


def _f1(prediction: str, reference: str, lowercase: bool) -> float:
    if lowercase:
        prediction, reference = prediction.lower(), reference.lower()
    pred, ref = prediction.split(), reference.split()
    common = sum(min(pred.count(t), ref.count(t)) for t in set(pred))
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


class TokenF1(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__,
            citation="",
            inputs_description="predictions: strings; references: a list of strings per prediction",
            features=datasets.Features(
                {
                    "predictions": datasets.Value("string"),
                    "references": datasets.Sequence(datasets.Value("string")),
                }
            ),
        )

    def _compute(self, predictions, references, lowercase=True):
        scores = [
            max(_f1(p, r, lowercase) for r in refs) for p, refs in zip(predictions, references, strict=True)
        ]
        return {
            "token_f1": sum(scores) / len(scores),
            "best_f1": max(scores),
            "per_prediction": scores,
        }

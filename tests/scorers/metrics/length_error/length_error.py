"""Relative length error |len(prediction) - len(reference)| / len(reference), one reference per
prediction: lower is better (an `evaluate` metric module kept on disk)."""

import datasets
import evaluate


class LengthError(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__,
            citation="",
            inputs_description="predictions and references: strings",
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references):
        errors = [abs(len(p) - len(r)) / max(len(r), 1) for p, r in zip(predictions, references, strict=True)]
        return {"length_error": sum(errors) / len(errors)}

"""What the GUI dock and scripts call (imports torch: load it when a model is first used)."""

from usannotator_plugins.ifss.adapt import AdaptResult, adapt, adaptation_job
from usannotator_plugins.ifss.propagate import (Interval, PropagationResult, Propagator, correction_job,
                                                document_inputs, intervals_around, propagate, propagation_job)
from usannotator_plugins.ifss.weights import load_model, save_weights, shipped_weights

__all__ = ["Propagator", "PropagationResult", "Interval", "propagate", "propagation_job", "correction_job",
           "document_inputs", "intervals_around", "adapt", "adaptation_job", "AdaptResult",
           "load_model", "save_weights", "shipped_weights"]

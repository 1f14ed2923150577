"""Training: the Trainer mixed into models (compile / fit / evaluate / predict), the train step,
the epoch loop, dev evaluation with best-on-dev selection, and the state a checkpoint resumes.

    trainer.py     Trainer: the public methods, and the model's training state
    loop.py        FitLoop: one fit, epoch by epoch (the course's TRAIN procedure)
    step.py        TrainStep: one update (forward, backward, update; recorded and replayed)
    evaluation.py  Evaluation on dev data; BestWeights, the best-on-dev selection
    state.py       FitState: what a checkpoint holds to resume a fit exactly
    arguments.py   checks of fit's, evaluate's and predict's arguments
    strategy.py    Strategy: how a fit spreads over processes (one, unless gpunet.distributed says)
"""

from .loop import FitLoop, NonFiniteLossWarning
from .step import TrainStep, TrainStepWrapper, add_train_step_wrapper, remove_train_step_wrapper
from .strategy import Strategy, get_strategy, set_strategy
from .trainer import Trainer

__all__ = ["Trainer", "FitLoop", "TrainStep", "TrainStepWrapper", "add_train_step_wrapper",
           "remove_train_step_wrapper", "NonFiniteLossWarning", "Strategy", "get_strategy", "set_strategy"]

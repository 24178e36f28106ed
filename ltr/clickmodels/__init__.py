"""Click models fitted by EM on a shop's click log (Chuklin, Markov and de Rijke, "Click Models for
Web Search", 2015): they separate how often a result was examined at its position from how
attractive and satisfying it is, giving position-bias propensities and relevance labels for
learning to rank. Pure numpy, vectorised over impressions."""

from ltr.clickmodels.base import ClickModel
from ltr.clickmodels.cascade import CascadeModel
from ltr.clickmodels.data import ClickLog
from ltr.clickmodels.dbn import DynamicBayesianNetwork
from ltr.clickmodels.estimates import PairEstimate, PairEstimates
from ltr.clickmodels.labels import graded_labels, ipw_click_weights
from ltr.clickmodels.pairs import PairIndex
from ltr.clickmodels.pbm import PositionBasedModel
from ltr.clickmodels.selection import MODELS, CandidateScore, ModelSelection, make_model, select_model
from ltr.clickmodels.ubm import UserBrowsingModel

__all__ = [
    "MODELS", "CandidateScore", "CascadeModel", "ClickLog", "ClickModel", "DynamicBayesianNetwork",
    "ModelSelection", "PairEstimate", "PairEstimates", "PairIndex", "PositionBasedModel", "UserBrowsingModel",
    "graded_labels", "ipw_click_weights", "make_model", "select_model",
]

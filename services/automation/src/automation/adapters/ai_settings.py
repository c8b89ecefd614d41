"""Building the OpenAI engine from settings (per-function overrides over service defaults)."""

from __future__ import annotations

from automation.adapters.openai_engine import FunctionConfig, OpenAIEngine, TokenPrice
from automation.config import AutomationSettings
from automation.domain.ai import AIFunction


def engine_from_settings(settings: AutomationSettings) -> OpenAIEngine:
    configs = {}
    for function in AIFunction:
        override = settings.openai_functions.get(function.value)
        default_model = (
            settings.openai_image_model
            if function is AIFunction.GENERATE_IMAGE
            else settings.openai_model
        )
        api_key = override.api_key if override and override.api_key else settings.openai_api_key
        configs[function] = FunctionConfig(
            model=(override.model if override and override.model else default_model),
            api_key=api_key.get_secret_value() if api_key else None,
            base_url=(
                override.base_url if override and override.base_url else settings.openai_base_url
            ),
            timeout_s=(
                override.timeout_s if override and override.timeout_s else settings.openai_timeout_s
            ),
            max_retries=(
                override.max_retries
                if override and override.max_retries is not None
                else settings.openai_max_retries
            ),
            image_size=settings.openai_image_size,
        )
    prices = {model: TokenPrice(i, o) for model, (i, o) in settings.openai_token_prices.items()}
    return OpenAIEngine(configs, prices=prices)

"""The catalogue of supported exchanges. This is configuration (what Amarktai supports), not market data."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CredentialField:
    """A credential field a platform needs besides ``api_key``/``api_secret``/``passphrase`` (a broker's client code,
    TOTP secret, gateway URL, paper/live switch...). Stored encrypted with the keys (``ExchangeCredential.extras``);
    ``secret`` fields are never returned, the others are shown back as the credential's settings."""

    name: str
    label: str
    secret: bool = True
    required: bool = True
    kind: str = "text"  # text | url | choice | base32 (a TOTP secret: letters A-Z and digits 2-7)
    choices: tuple = field(default_factory=tuple)
    default: str = ""
    help: str = ""

    def entry(self):
        return {
            "name": self.name,
            "label": self.label,
            "secret": self.secret,
            "required": self.required,
            "kind": self.kind,
            "choices": list(self.choices),
            "default": self.default,
            "help": self.help,
        }


@dataclass(frozen=True)
class Platform:
    id: str
    name: str
    ccxt_id: str
    region: str
    color: str
    icon: str
    bot_limit: int
    quote: str  # default quote currency for bots on this platform
    default_symbol: str
    requires_passphrase: bool = False
    supports_paper: bool = True
    supports_live: bool = True
    enabled: bool = True
    symbols: tuple = field(default_factory=tuple)
    # Currencies the exchange holds besides those of its pairs (stablecoins and fiat it takes deposits in).
    extra_currencies: tuple = field(default_factory=tuple)
    # crypto (an exchange ccxt speaks to) or stock (a broker behind its own SDK).
    kind: str = "crypto"
    # The adapter module that talks to it (trading.exchanges.ADAPTERS): "ccxt" or a broker's own.
    adapter: str = "ccxt"
    # False for platforms whose keys are one token (OpenAlgo's API key): no api_secret asked or stored.
    secret_required: bool = True
    # Credential fields besides api_key/api_secret/passphrase.
    fields: tuple = field(default_factory=tuple)
    # The exchange offers a sandbox/testnet that a credential may be marked for.
    supports_testnet: bool = False

    @property
    def currencies(self):
        """Every currency an account on this exchange can hold: the bases and quotes of its pairs, and the extras.
        What a transfer to or from it may carry (ZAR to Binance cannot work: Binance holds no ZAR)."""
        held = {part for symbol in self.symbols for part in symbol.split("/")} | set(self.extra_currencies)
        return tuple(sorted(held))

    @property
    def required_fields(self):
        names = ["api_key"]
        if self.secret_required:
            names.append("api_secret")
        if self.requires_passphrase:
            names.append("passphrase")
        return names + [extra.name for extra in self.fields if extra.required]

    def credential_field(self, name):
        """The extra credential field ``name``, or None."""
        return next((extra for extra in self.fields if extra.name == name), None)

    def catalogue_entry(self):
        return {
            "id": self.id,
            "name": self.name,
            "display_name": self.name,
            "enabled": self.enabled,
            "bot_limit": self.bot_limit,
            "supports_paper": self.supports_paper,
            "supports_live": self.supports_live,
            "icon": self.icon,
            "color": self.color,
            "region": self.region,
            "quote_currency": self.quote,
            "symbols": list(self.symbols),
            "currencies": list(self.currencies),
            "kind": self.kind,
            "supports_testnet": self.supports_testnet,
        }

    def provider_entry(self):
        return {
            "id": self.id,
            "type": "exchange" if self.kind == "crypto" else "broker",
            "display_name": self.name,
            "required_fields": self.required_fields,
            "fields": [extra.entry() for extra in self.fields],
            "supports_testnet": self.supports_testnet,
            "icon": f"{self.id}.svg",
            "description": f"{self.name} cryptocurrency exchange" if self.kind == "crypto" else f"{self.name} broker",
        }


PLATFORMS = {
    p.id: p
    for p in [
        Platform(
            "luno",
            "Luno",
            "luno",
            "ZA",
            "#3861FB",
            "\U0001f1ff\U0001f1e6",
            5,
            "ZAR",
            "BTC/ZAR",
            symbols=("BTC/ZAR", "ETH/ZAR", "XRP/ZAR", "SOL/ZAR"),
            extra_currencies=("USDT", "USDC"),
        ),
        Platform(
            "binance",
            "Binance",
            "binance",
            "GLOBAL",
            "#F3BA2F",
            "\U0001f7e1",
            10,
            "USDT",
            "BTC/USDT",
            symbols=("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "BNB/USDT"),
            extra_currencies=("USDC",),
            supports_testnet=True,  # ccxt's urls["test"]: the Spot Test Network (testnet.binance.vision)
        ),
        Platform(
            "kucoin",
            "KuCoin",
            "kucoin",
            "GLOBAL",
            "#23AF91",
            "\U0001f7e2",
            10,
            "USDT",
            "BTC/USDT",
            requires_passphrase=True,
            symbols=("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT"),
            extra_currencies=("USDC",),
        ),
        Platform(
            "kraken",
            "Kraken",
            "kraken",
            "US",
            "#5741D9",
            "\U0001f419",
            5,
            "USD",
            "BTC/USD",
            symbols=("BTC/USD", "ETH/USD", "SOL/USD", "XRP/USD"),
            extra_currencies=("USDT", "USDC", "EUR"),
        ),
        Platform(
            "valr",
            "VALR",
            "valr",
            "ZA",
            "#1A1F71",
            "\U0001f1ff\U0001f1e6",
            5,
            "ZAR",
            "BTC/ZAR",
            symbols=("BTC/ZAR", "ETH/ZAR", "XRP/ZAR", "SOL/ZAR"),
            extra_currencies=("USDT", "USDC"),
        ),
        # mStock (Mirae Asset, India): NSE equities through the broker's Type A trading API
        # (trading/exchanges/mstock_adapter.py); it logs in with a TOTP generated from the stored TOTP secret.
        Platform(
            "mstock",
            "mStock",
            "",
            "IN",
            "#F26B21",
            "\U0001f1ee\U0001f1f3",
            5,
            "INR",
            "RELIANCE/INR",
            symbols=("RELIANCE/INR", "TCS/INR", "INFY/INR", "SBIN/INR"),
            kind="stock",
            adapter="mstock",
            fields=(
                CredentialField(
                    "client_code",
                    "Client code",
                    secret=False,
                    help="Your mStock client code (login id), shown in the mStock app's profile",
                ),
                CredentialField(
                    "totp_secret",
                    "TOTP secret",
                    kind="base32",
                    help="The base32 secret shown when you enable TOTP for the trading API (the text under the QR "
                    "code); Amarktai generates the login codes from it",
                ),
            ),
        ),
        Platform(
            "alpaca",
            "Alpaca",
            "",
            "US",
            "#FCD72B",
            "\U0001f999",
            10,
            "USD",
            "AAPL/USD",
            symbols=("AAPL/USD", "MSFT/USD", "TSLA/USD", "SPY/USD", "BTC/USD", "ETH/USD"),
            kind="stock",
            adapter="alpaca",
            fields=(
                CredentialField(
                    "environment",
                    "Environment",
                    secret=False,
                    required=False,
                    kind="choice",
                    choices=("paper", "live"),
                    default="paper",
                    help="paper: Alpaca's paper-trading endpoint (paper keys); live: real money (live keys)",
                ),
            ),
        ),
        Platform(
            "openalgo",
            "OpenAlgo",
            "openalgo",
            "IN",
            "#0F766E",
            "\U0001f1ee\U0001f1f3",
            10,
            "INR",
            "RELIANCE/INR",
            symbols=("RELIANCE/INR", "TCS/INR", "INFY/INR", "HDFCBANK/INR", "SBIN/INR"),
            kind="stock",
            adapter="openalgo",
            secret_required=False,
            fields=(
                CredentialField(
                    "host_url",
                    "Gateway URL",
                    secret=False,
                    required=True,
                    kind="url",
                    help="Your own OpenAlgo server, e.g. https://openalgo.example.com (http:// or https:// only)",
                ),
            ),
        ),
    ]
}


def get_platform(platform_id):
    """The Platform for an id, or None."""
    return PLATFORMS.get((platform_id or "").lower())

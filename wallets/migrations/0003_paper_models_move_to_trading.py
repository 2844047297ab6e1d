# PaperBalance and PaperOrder belong to the paper exchange, which lives in the trading app (below wallets in the layer
# order). The tables stay; only Django's model state moves (trading 0002 takes them over).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("wallets", "0002_transfer_transferevent_exchangecredential_and_more"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="PaperBalance"),
                migrations.DeleteModel(name="PaperOrder"),
            ],
            database_operations=[],
        ),
    ]

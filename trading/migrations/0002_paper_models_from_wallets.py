# PaperBalance and PaperOrder move here from wallets (the paper exchange owns them). The model state is taken over
# from wallets 0003 on the existing tables, which are then renamed to this app's names.

import django.db.models.deletion
import django.utils.timezone
import uuid
from decimal import Decimal
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("trading", "0001_initial"),
        ("wallets", "0003_paper_models_move_to_trading"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='PaperBalance',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('platform', models.CharField(max_length=32)),
                        ('currency', models.CharField(max_length=16)),
                        ('free', models.DecimalField(decimal_places=12, default=Decimal('0'), max_digits=30)),
                        ('used', models.DecimalField(decimal_places=12, default=Decimal('0'), max_digits=30)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='paper_balances', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'wallets_paperbalance',
                        'constraints': [models.UniqueConstraint(fields=('user', 'platform', 'currency'), name='uniq_paper_balance'), models.CheckConstraint(condition=models.Q(('free__gte', 0), ('used__gte', 0)), name='paper_balance_non_negative')],
                    },
                ),
                migrations.CreateModel(
                    name='PaperOrder',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('platform', models.CharField(max_length=32)),
                        ('client_order_id', models.CharField(max_length=64)),
                        ('symbol', models.CharField(max_length=32)),
                        ('side', models.CharField(max_length=4)),
                        ('type', models.CharField(max_length=8)),
                        ('amount', models.DecimalField(decimal_places=12, max_digits=30)),
                        ('price', models.DecimalField(blank=True, decimal_places=12, max_digits=30, null=True)),
                        ('filled', models.DecimalField(decimal_places=12, default=Decimal('0'), max_digits=30)),
                        ('average', models.DecimalField(blank=True, decimal_places=12, max_digits=30, null=True)),
                        ('cost', models.DecimalField(decimal_places=12, default=Decimal('0'), max_digits=30)),
                        ('fee', models.DecimalField(decimal_places=12, default=Decimal('0'), max_digits=30)),
                        ('fee_currency', models.CharField(blank=True, max_length=16)),
                        ('reserved', models.DecimalField(decimal_places=12, default=Decimal('0'), max_digits=30)),
                        ('status', models.CharField(db_index=True, default='open', max_length=10)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='paper_orders', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'db_table': 'wallets_paperorder',
                        'ordering': ['-created_at'],
                        'indexes': [models.Index(fields=['user', 'platform', 'status'], name='wallets_pap_user_id_74ea52_idx')],
                        'constraints': [models.UniqueConstraint(fields=('user', 'platform', 'client_order_id'), name='uniq_paper_client_order_id')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="paperbalance", table=None),
        migrations.AlterModelTable(name="paperorder", table=None),
    ]

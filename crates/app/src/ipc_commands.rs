// The one declaration of the desktop's IPC commands: each command's name, the request it takes
// (`()`: none) and the response it gives. From it `ipc.rs` makes `COMMANDS` and the TypeScript
// types, the desktop shell registers a handler of the same name for each (`src-tauri/src/
// lib.rs`), and `src-tauri/build.rs` gives each a permission and writes the main window's
// capability. Adding a command here is the whole declaration; the shell's build then needs its
// `#[tauri::command]` function. Included by `ipc.rs` and by `src-tauri/build.rs`.

/// Calls `$then!` with every command as `name: Request => Response`.
#[macro_export]
macro_rules! ipc_commands {
    ($then:ident) => {
        $then! {
            app_info: () => AppInfo,
            create_admin: Credentials => SessionView,
            sign_in: Credentials => SessionView,
            sign_out: () => (),
            list_policies: PolicySearch => List<PolicyRow>,
            add_policy: PolicyForm => PolicyView,
            correct_policy: PolicyForm => PolicyCorrected,
            import_policies: ImportPolicies => ImportReport,
            pay_mpesa: MpesaRequest => TransactionView,
            pay_card: CardRequest => TransactionView,
            pay_cash: CashRequest => TransactionView,
            cash_report: CashDay => CashReport,
            close_cash: CloseCash => DrawerView,
            sign_off_cash: SignOffCash => DrawerView,
            deposit_cash: DepositCash => DepositView,
            pay_cheque: ChequeRequest => ChequeView,
            cheques: ChequesFilter => Vec<ChequeView>,
            bank_cheque: ByNumber => ChequeView,
            clear_cheque: ByNumber => ChequeView,
            bounce_cheque: BounceCheque => ChequeView,
            pay_bank: SlipRequest => SlipView,
            bank_slips: SlipsFilter => Vec<SlipView>,
            confirm_slip: ConfirmSlip => SlipView,
            import_bank_statement: ImportBankStatement => BankStatementReport,
            qr_code: QrCode => String,
            payment_status: ByNumber => TransactionView,
            save_receipt: SaveReceipt => SavedReceipt,
            history: HistoryFilter => List<TransactionView>,
            company_history: CompanyFilter => List<TransactionView>,
            export_history: HistoryFilter => String,
            policy_details: ByNumber => PolicyDetails,
            saved_cards: CardsOf => Vec<SavedCardView>,
            dashboard: DateRange => DashboardView,
            refunds: RefundsFilter => Vec<RefundView>,
            request_refund: RequestRefund => RefundView,
            approve_refund: RefundId => RefundView,
            reject_refund: RejectRefund => RefundView,
            orphans: OrphansFilter => Vec<OrphanView>,
            resolve_orphan: ResolveOrphan => (),
            recent_paybill: () => Vec<TransactionView>,
            verify_code: VerifyCode => TransactionView,
            suspense: OrphansFilter => Vec<SuspenseView>,
            till_arrivals: () => Vec<SuspenseView>,
            match_till: MatchTill => SuspenseDecided,
            decide_suspense: DecideSuspense => SuspenseDecided,
            demo_pay_bill: DemoPayBill => DemoPaid,
            messages: MessagesFilter => Vec<MessageView>,
            resend_message: MessageId => MessageView,
            send_messages: () => SendReport,
            policy_messages: PolicyMessages => (),
            reconcile: Day => ReconcileReport,
            import_statement: ImportStatement => StatementImport,
            audit_log: AuditFilter => Vec<AuditView>,
            settings: () => SettingsView,
            save_setting: SaveSetting => (),
            save_secret: SaveSecret => (),
            users: () => Vec<UserView>,
            add_user: AddUser => UserView,
            check_input: CheckInput => InputCheck,
            doctor: () => DoctorReport,
            check_update: () => UpdateView,
            install_update: InstallUpdate => InstalledUpdate,
            restart_app: () => (),
            ui_ready: () => (),
        }
    };
}

; Malipo's Windows installer, built on Debian with makensis (scripts/package --windows).
;
; Per user, without administrator rights: the programs go to %LOCALAPPDATA%\Programs\Malipo,
; shortcuts to the user's Start menu and desktop. The office's data (%APPDATA%\Malipo: the
; database, receipts, logs) is never touched by installing, updating or uninstalling.
;
; makensis -DVERSION=0.1.0 -DSTAGE=<folder with the three files> -DOUTFILE=<setup.exe> malipo.nsi

; A 64-bit installer for a 64-bit program (and one Wine's 64-bit loader runs in tests).
Target amd64-unicode
SetCompressor /SOLID lzma
RequestExecutionLevel user

!include FileFunc.nsh

!ifndef VERSION
  !error "give -DVERSION=x.y.z"
!endif
!ifndef STAGE
  !error "give -DSTAGE=<folder holding malipo-desktop.exe, malipo.exe and WebView2Loader.dll>"
!endif
!ifndef OUTFILE
  !define OUTFILE "Malipo_${VERSION}_x64-setup.exe"
!endif

!define APP "Malipo"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Malipo"
; The WebView2 runtime's client id (Microsoft's documented way to detect it).
!define WEBVIEW2_CLIENT "{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"
; Microsoft's evergreen bootstrapper, fetched by the browser only on a machine without WebView2.
!define WEBVIEW2_DOWNLOAD "https://go.microsoft.com/fwlink/p/?LinkId=2124703"

Name "${APP} ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\${APP}"
InstallDirRegKey HKCU "${UNINSTALL_KEY}" "InstallLocation"
Icon "${STAGE}\icon.ico"
UninstallIcon "${STAGE}\icon.ico"
VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${APP}"
VIAddVersionKey "FileDescription" "${APP} installer"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "LegalCopyright" "Malipo"

; Started by Malipo's updater (Tauri's): /P (passive: progress only), /UPDATE, /R (start Malipo
; again afterwards), /ARGS (Malipo's own arguments, not used). /S is NSIS's own silent mode.
Var Updating
Var Relaunch

Function .onInit
  StrCpy $Updating 0
  StrCpy $Relaunch 0
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/UPDATE" $R1
  IfErrors +2 0
    StrCpy $Updating 1
  ClearErrors
  ${GetOptions} $R0 "/P" $R1
  IfErrors +2 0
    StrCpy $Updating 1
  ClearErrors
  ${GetOptions} $R0 "/R" $R1
  IfErrors +2 0
    StrCpy $Relaunch 1
  ; An update goes where the installed copy is, without asking.
  StrCmp $Updating 1 0 +2
    SetSilent silent
FunctionEnd

Function .onInstSuccess
  StrCmp $Relaunch 1 0 +2
    Exec '"$INSTDIR\malipo-desktop.exe"'
FunctionEnd

Page directory
Page instfiles
UninstPage uninstConfirm
UninstPage instfiles

Function WebView2Present
  ; Per machine (64-bit view of the 32-bit key) or per user.
  ReadRegStr $0 HKLM "SOFTWARE\WOW6432Node\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_CLIENT}" "pv"
  StrCmp $0 "" 0 found
  ReadRegStr $0 HKCU "Software\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_CLIENT}" "pv"
  StrCmp $0 "" 0 found
  StrCpy $0 ""
  Return
  found:
  StrCmp $0 "0.0.0.0" 0 +2
    StrCpy $0 ""
FunctionEnd

Section "Malipo"
  ; The updater exits Malipo as it starts this installer: give the program a moment to close.
  StrCmp $Updating 1 0 +2
    Sleep 3000
  SetOutPath "$INSTDIR"
  File "${STAGE}\malipo-desktop.exe"
  File "${STAGE}\malipo.exe"
  File "${STAGE}\WebView2Loader.dll"
  File "${STAGE}\icon.ico"
  WriteUninstaller "$INSTDIR\Uninstall.exe"

  CreateDirectory "$SMPROGRAMS\${APP}"
  CreateShortcut "$SMPROGRAMS\${APP}\${APP}.lnk" "$INSTDIR\malipo-desktop.exe" "" "$INSTDIR\icon.ico"
  CreateShortcut "$SMPROGRAMS\${APP}\Uninstall ${APP}.lnk" "$INSTDIR\Uninstall.exe"
  CreateShortcut "$DESKTOP\${APP}.lnk" "$INSTDIR\malipo-desktop.exe" "" "$INSTDIR\icon.ico"

  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${APP}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "Malipo"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\icon.ico"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\Uninstall.exe"'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1

  ; Windows 11 has WebView2; a Windows 10 machine may not. Malipo's window needs it.
  Call WebView2Present
  StrCmp $0 "" 0 webview_ok
    MessageBox MB_YESNO|MB_ICONEXCLAMATION "Malipo needs Microsoft's WebView2 runtime, which this computer does not have yet.$\r$\n$\r$\nOpen Microsoft's download of it now? (Run it, then start Malipo.)" /SD IDNO IDNO webview_ok
    ExecShell "open" "${WEBVIEW2_DOWNLOAD}"
  webview_ok:
SectionEnd

Section "Uninstall"
  ; The office's data in %APPDATA%\Malipo stays: payments and receipts are records to keep.
  Delete "$INSTDIR\malipo-desktop.exe"
  Delete "$INSTDIR\malipo.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\icon.ico"
  Delete "$INSTDIR\Uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${APP}\${APP}.lnk"
  Delete "$SMPROGRAMS\${APP}\Uninstall ${APP}.lnk"
  RMDir "$SMPROGRAMS\${APP}"
  Delete "$DESKTOP\${APP}.lnk"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
SectionEnd

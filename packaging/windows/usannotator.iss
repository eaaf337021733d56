; Inno Setup 6 script for the Windows installer (recipe; not built or tested by the project yet).
;   iscc /DAppVersion=0.1.0 packaging\windows\usannotator.iss     (packaging\windows\build.ps1 runs it)
; Installs the PyInstaller one-folder bundle (build\bundle\dist\usannotator) and a Start-menu entry.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define BundleDir "..\..\build\bundle\dist\usannotator"

[Setup]
AppId={{7B3C1E52-6A0F-4C38-9E1D-2F5A8B4C9D10}
AppName=usannotator
AppVersion={#AppVersion}
AppPublisher=usannotator project
AppComments=3D ultrasound annotation of lower-leg muscles
DefaultDirName={autopf}\usannotator
DefaultGroupName=usannotator
DisableProgramGroupPage=yes
; Per-user install without administrator rights unless the person installing chooses all users.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=usannotator-{#AppVersion}-windows-x86_64-setup
SetupIconFile=..\..\build\icons\usannotator.ico
UninstallDisplayIcon={app}\usannotator-gui.exe
Compression=lzma2/max
SolidCompression=yes
; A CUDA bundle is several GB: Inno Setup then needs the data in slices next to setup.exe.
; DiskSpanning=yes
; DiskSliceSize=max

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\usannotator"; Filename: "{app}\usannotator-gui.exe"; IconFilename: "{app}\usannotator.ico"
Name: "{group}\usannotator (demo)"; Filename: "{app}\usannotator-gui.exe"; Parameters: "--demo"; IconFilename: "{app}\usannotator.ico"
Name: "{group}\Uninstall usannotator"; Filename: "{uninstallexe}"
Name: "{autodesktop}\usannotator"; Filename: "{app}\usannotator-gui.exe"; IconFilename: "{app}\usannotator.ico"; Tasks: desktopicon

[Run]
Filename: "{app}\usannotator-gui.exe"; Parameters: "--demo"; Description: "Open usannotator on the demo"; Flags: postinstall nowait skipifsilent
